/* Draws each chart of a results page from its figure, held in a JSON block beside it.
   The figures and their tables come from the server; this file only hands them to plotly,
   which the page loads from /static/vendor/plotly.min.js before this file. */
(function () {
  "use strict";

  function draw(holder) {
    var block = document.getElementById(holder.getAttribute("data-figure"));
    if (!block || typeof window.Plotly === "undefined") {
      return;
    }
    var figure = JSON.parse(block.textContent);
    holder.classList.add("chart__plot--drawn");
    holder.setAttribute("role", "img");
    holder.setAttribute("aria-label", holder.getAttribute("data-label"));
    window.Plotly.newPlot(holder, figure.data, figure.layout, {
      responsive: true,
      displayModeBar: false,
      displaylogo: false,
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll(".js-chart"), draw);
})();
