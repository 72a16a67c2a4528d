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
    zoneStyle: function () { return layer("zones"); },
    // Fitting the map (callbacks.map FIT_JS): Leaflet padding, in px, of what covers the map
    // (a drawer overlaying it on a narrow screen, the indicator cards along its top), measured
    // now, so the fitted towns land in the part of the map one can see.
    fitPadding: function () {
      var map = document.getElementById("map");
      var pad = {paddingTopLeft: [20, 20], paddingBottomRight: [20, 30]};
      if (!map) { return pad; }
      var m = map.getBoundingClientRect();
      function shown(id) {
        var el = document.getElementById(id);
        if (!el) { return null; }
        var css = getComputedStyle(el);
        return css.display === "none" || css.visibility === "hidden" ? null
          : el.getBoundingClientRect();
      }
      var left = shown("drawer-filters"), right = shown("drawer-panels");
      var l = left ? Math.max(0, left.right - m.left) : 0;
      var r = right ? Math.max(0, m.right - right.left) : 0;
      // a drawer wider than the map leaves too little to fit into: ignore that one
      if (m.width - l - r < 240) { r = 0; }
      if (m.width - l < 240) { l = 0; }
      var cards = document.querySelector(".nt-cards");
      var top = 0;
      if (cards && cards.children.length) {
        top = Math.max(0, cards.getBoundingClientRect().bottom - m.top);
        if (m.height - top < 240) { top = 0; }
      }
      // a town label is centred on its town and may reach past the boundary: half the
      // widest label more on each side keeps the labels whole too
      var half = 0;
      document.querySelectorAll(".town-label").forEach(function (e) {
        half = Math.max(half, e.getBoundingClientRect().width / 2);
      });
      half = Math.min(half, 90);
      pad.paddingTopLeft = [l + 12 + half, top + 12];
      pad.paddingBottomRight = [r + 12 + half, 30];
      return pad;
    },
    // Calls ``done`` once the page has settled after a drawer change: 90 ms on, or on the
    // first load as soon as the indicator cards are drawn (at most 2 s on).
    afterLayout: function (done) {
      var start = Date.now();
      (function wait() {
        var cards = document.querySelector(".nt-cards");
        var ready = Date.now() - start >= 90 && (!cards || cards.children.length > 0);
        if (ready || Date.now() - start > 2000) { done(); } else { setTimeout(wait, 30); }
      })();
    },
    fitting: function () { movedByUser = false; },
    movedSinceFit: function () { return movedByUser; }
  });

  // Whether the user has moved the map since it was last fitted (dragged, wheel or keyboard
  // zoom, double click, the zoom buttons, a cluster click): then opening or closing a drawer
  // leaves the view alone rather than refitting it. Per page, in this browser only.
  var movedByUser = false;
  function onMap(e) { return e.target && e.target.closest && e.target.closest("#map"); }
  function mark(e) { if (onMap(e)) { movedByUser = true; } }
  ["wheel", "dblclick", "keydown"].forEach(function (type) {
    document.addEventListener(type, mark, {capture: true, passive: true});
  });
  document.addEventListener("pointermove", function (e) { if (e.buttons) { mark(e); } },
                            {capture: true, passive: true});
  document.addEventListener("click", function (e) {
    if (onMap(e) && e.target.closest(".leaflet-control-zoom, .marker-cluster")) {
      movedByUser = true;
    }
  }, true);
})();
