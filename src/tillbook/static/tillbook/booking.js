/* Booking pages: show times in the visitor's zone, help on-site bookings, fit an embed frame. */
(function () {
  "use strict";
  var params = new URLSearchParams(window.location.search);
  var zoneSelect = document.querySelector("[data-detect-zone]");
  if (zoneSelect && !params.has("tz")) {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone && zone !== zoneSelect.value && zoneSelect.querySelector('option[value="' + zone + '"]')) {
      params.set("tz", zone);
      window.location.replace(window.location.pathname + "?" + params.toString());
      return;
    }
  }
  var locate = document.querySelector("[data-locate]");
  if (locate && navigator.geolocation) {
    locate.addEventListener("click", function () {
      navigator.geolocation.getCurrentPosition(function (position) {
        document.getElementById("latitude").value = position.coords.latitude.toFixed(5);
        document.getElementById("longitude").value = position.coords.longitude.toFixed(5);
        locate.textContent = "Location added";
      });
    });
  }
  if (window.parent !== window) {
    var report = function () {
      window.parent.postMessage({ tillbookHeight: document.documentElement.scrollHeight }, "*");
    };
    window.addEventListener("load", report);
    window.addEventListener("resize", report);
  }
})();
