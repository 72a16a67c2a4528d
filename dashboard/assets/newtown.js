// Functions dash-leaflet calls by name ({"variable": "newtown.x"}). Text reaching the DOM is
// escaped on the server (tooltips) or set with textContent here.
window.newtown = Object.assign({}, window.newtown, {
  pointToLayer: function (feature, latlng) {
    return L.circleMarker(latlng, {
      radius: 7, weight: 1.5, color: "#ffffff", fillColor: feature.properties.colour,
      fillOpacity: 0.95, className: "facility-marker facility-" + feature.properties.id,
      pane: "markerPane"  // above every polygon, so a town never hides a facility's click
    });
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
    return L.circleMarker(latlng, {
      radius: 6, weight: 2.5, color: "#000000", fillColor: "#ffffff", fillOpacity: 1,
      className: "uploaded-marker", pane: "markerPane"
    });
  },
  uploadedBoundaryStyle: function () {
    return {color: "#6a1b9a", weight: 2, fillOpacity: 0.05, dashArray: "2 4"};
  },
  drawnAreaStyle: function () {
    return {color: "#d35400", weight: 2, dashArray: "6 4", fillOpacity: 0.04};
  },
  resultStyle: function (feature) {
    var c = feature.properties.colour || "#888888";
    return {color: c, weight: 0.5, fillColor: c, fillOpacity: 0.45};
  },
  hullStyle: function (feature) {
    var c = feature.properties.colour || "#333333";
    return {color: c, weight: 2.5, fillColor: c, fillOpacity: 0.12};
  },
  aggStyle: function (feature) {
    return {color: "#08306b", weight: 0.5, fillColor: feature.properties.colour,
            fillOpacity: 0.75, className: "agg-cell"};
  },
  aggLabel: function (feature, layer) {
    layer.bindTooltip(String(feature.properties.count));  // a number: nothing to escape
  },
  coveredStyle: function () {
    return {color: "#2ca25f", weight: 0.5, fillColor: "#2ca25f", fillOpacity: 0.25};
  },
  gapStyle: function () {
    return {color: "#de2d26", weight: 1, fillColor: "#de2d26", fillOpacity: 0.25,
            className: "gap-polygon"};
  },
  sitePointToLayer: function (feature, latlng) {
    return L.circleMarker(latlng, {radius: 9, weight: 3, color: "#000", fillColor: "#ffeb3b",
                                   fillOpacity: 1, pane: "markerPane", className: "site-marker"});
  },
  districtStyle: function () {
    return {color: "#8a8a8a", weight: 1, fillOpacity: 0.03, dashArray: "3 3"};
  },
  townStyle: function (feature) {
    return {color: feature.properties.colour || "#c0392b", weight: 2.5, fillOpacity: 0.08};
  },
  corridorStyle: function () {
    return {color: "#1f77b4", weight: 1, fillColor: "#1f77b4", fillOpacity: 0.08,
            dashArray: "6 4"};
  },
  corridorLineStyle: function () {
    return {color: "#1f4e79", weight: 3, opacity: 0.8};
  },
  zoneStyle: function () {
    return {color: "#e67e22", weight: 2, fillColor: "#e67e22", fillOpacity: 0.15,
            dashArray: "4 3"};
  }
});
