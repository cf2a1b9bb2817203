// The job page while its job runs: poll the small status answer, move the bar and its text, and
// reload the page once the job has ended (to show the download or the reason it failed).
(function () {
  "use strict";
  var box = document.querySelector("[data-job-status]");
  if (!box || box.dataset.jobDone === "true") { return; }
  var bar = box.querySelector("progress");
  var text = box.querySelector("[data-job-text]");
  function poll() {
    fetch(box.dataset.jobStatus, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (job) {
        if (!job) { setTimeout(poll, 5000); return; }
        if (job.finished) { window.location.reload(); return; }
        if (job.percent !== null) { bar.value = job.percent; bar.textContent = job.percent + " %"; }
        text.textContent = job.text;
        setTimeout(poll, 2000);
      })
      .catch(function () { setTimeout(poll, 5000); });
  }
  setTimeout(poll, 1000);
})();
