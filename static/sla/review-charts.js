// Draws the SLA review's charts from the JSON the page embeds (no inline script: CSP).
(function () {
  "use strict";
  function draw() {
    var source = document.getElementById("sla-chart-data");
    if (!source || typeof Chart === "undefined") { return; }
    var data = JSON.parse(source.textContent);
    data.charts.forEach(function (chart) {
      var canvas = document.querySelector('canvas[data-chart="' + chart.id + '"]');
      if (!canvas) { return; }
      new Chart(canvas, {
        type: chart.id === "breaches" ? "bar" : "line",
        data: {
          labels: data.labels,
          datasets: chart.series.map(function (s) {
            return { label: s.label, data: s.data, spanGaps: true, tension: 0.2 };
          })
        },
        options: {
          responsive: true,
          maintainAspectRatio: false,
          animation: false,
          scales: { y: { beginAtZero: true } },
          plugins: { legend: { position: "bottom" } }
        }
      });
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
