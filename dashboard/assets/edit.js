// The Edit tab's map handle (dashboard/components/edit.py): a drag ends by reporting the
// handle's new position to the server, which writes it into the form's coordinates.
(function () {
  window.newtownEdit = Object.assign({}, window.newtownEdit, {
    dragEnd: function (e, ctx) {
      var ll = e.target.getLatLng();
      ctx.setProps({position: [ll.lat, ll.lng]});
    }
  });
})();
