/* Tillbook booking widget: <div data-tillbook-booking="https://…/your-business/book/"></div>
   <script src="https://…/static/tillbook/embed.js" async></script>
   Replaces each such element with the booking page in a frame that grows with its content. */
(function () {
  "use strict";
  var frames = [];
  document.querySelectorAll("[data-tillbook-booking]").forEach(function (holder) {
    var frame = document.createElement("iframe");
    frame.src = holder.getAttribute("data-tillbook-booking");
    frame.title = "Book online";
    frame.loading = "lazy";
    frame.style.cssText = "width:100%;min-height:640px;border:0;";
    holder.replaceWith(frame);
    frames.push(frame);
  });
  window.addEventListener("message", function (event) {
    var height = event.data && event.data.tillbookHeight;
    if (typeof height !== "number") { return; }
    frames.forEach(function (frame) {
      if (frame.contentWindow === event.source) { frame.style.height = height + "px"; }
    });
  });
})();
