// Functions dash-leaflet calls by name ({"variable": "newtown.x"}). Colours and path options
// come from geo/style.py through window.newtownStyle (written into the page by the app), so
// the dashboard, the HTML map and the print map share one style. Text reaching the DOM is
// escaped on the server (tooltips) or set with textContent here.
(function () {
  function S() { return window.newtownStyle; }
  function layer(name) { return Object.assign({}, S().layers[name]); }
  function result(name, extra) { return Object.assign({}, S().analysis[name], extra || {}); }
  window.newtown = Object.assign({}, window.newtown, {
    pointToLayer: function (feature, latlng) {
      return L.circleMarker(latlng, Object.assign({}, S().marker, {
        fillColor: feature.properties.colour || S().defaultColour,
        className: "facility-marker facility-" + feature.properties.id,
        pane: "markerPane"  // above every polygon, so a town never hides a facility's click
      }));
    },
    // A placeholder stands for a whole town or district: a hollow, dashed marker with the
    // number of facilities it carries, never a filled "site". The tooltip is escaped HTML
    // built on the server.
    placeholderToLayer: function (feature, latlng) {
      var p = feature.properties;
      var icon = L.divIcon({
        html: "<div><span>" + Number(p.count) + "</span></div>",
        className: "placeholder-marker placeholder-" + String(p.placement).replace(/[^a-z_]/g, ""),
        iconSize: L.point(30, 30)
      });
      return L.marker(latlng, {icon: icon, keyboard: false});  // tooltip: p.tooltip (bound by dash-leaflet)
    },
    // A pending proposal (a served store, editors and reviewers only): a dashed orange ring
    // where the facility would be once approved.
    proposalToLayer: function (feature, latlng) {
      return L.circleMarker(latlng, {radius: 11, color: "#e67e22", weight: 3, dashArray: "4 3",
        fill: true, fillOpacity: 0.05, className: "proposal-marker proposal-" +
          Number(feature.properties.change), pane: "markerPane"});
    },
    clusterToLayer: function (feature, latlng) {
      var n = feature.properties.point_count;
      var size = n < 10 ? 30 : n < 50 ? 36 : 44;
      var icon = L.divIcon({
        html: "<div><span>" + Number(n) + "</span></div>",
        className: "marker-cluster facility-cluster", iconSize: L.point(size, size)
      });
      return L.marker(latlng, {icon: icon});
    },
    uploadedPointToLayer: function (feature, latlng) {
      return L.circleMarker(latlng, result("uploaded_point",
        {className: "uploaded-marker", pane: "markerPane"}));
    },
    uploadedBoundaryStyle: function () { return result("uploaded_boundary"); },
    drawnAreaStyle: function () { return layer("within"); },
    resultStyle: function (feature) {
      var c = feature.properties.colour || S().analysis.result.color;
      return result("result", {color: c, fillColor: c});
    },
    hullStyle: function (feature) {
      var c = feature.properties.colour || S().analysis.hull.color;
      return result("hull", {color: c, fillColor: c});
    },
    aggStyle: function (feature) {
      return result("aggregate", {fillColor: feature.properties.colour, className: "agg-cell"});
    },
    aggLabel: function (feature, layer) {
      layer.bindTooltip(String(feature.properties.count));  // a number: nothing to escape
    },
    coveredStyle: function () { return result("covered"); },
    gapStyle: function () { return result("gap", {className: "gap-polygon"}); },
    sitePointToLayer: function (feature, latlng) {
      return L.circleMarker(latlng, result("site", {pane: "markerPane",
                                                    className: "site-marker"}));
    },
    districtStyle: function () { return layer("districts"); },
    townStyle: function (feature) {
      var style = layer("towns");
      style.color = feature.properties.colour || style.color;
      return style;
    },
    corridorStyle: function () { return layer("corridors"); },
    corridorLineStyle: function () { return layer("corridor_lines"); },
    zoneStyle: function () { return layer("zones"); }
  });
})();
