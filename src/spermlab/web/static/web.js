/* spermlab serve: the few things the pages do in the browser (plain JavaScript, no library).
   Every page works without it; it adds the calibration sources, the upload size check, the
   live queue and the review buttons. */
(function () {
  "use strict";

  function $(sel, root) { return (root || document).querySelector(sel); }
  function $all(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }
  function sizeText(n) {
    var units = [["GB", 1073741824], ["MB", 1048576], ["kB", 1024]];
    for (var i = 0; i < units.length; i++) { if (n >= units[i][1]) { return (n / units[i][1]).toFixed(1) + " " + units[i][0]; } }
    return n + " bytes";
  }
  function showError(text) {
    var m = $("#message");
    if (!m) { return; }
    m.textContent = text;
    m.hidden = false;
    m.scrollIntoView({ block: "center" });
  }

  /* -- new analysis: where each calibration value will come from; the upload limit -- */
  function newAnalysis(form) {
    var preset = $("#preset"), files = $("#files");
    var names = { um_per_px: "µm per pixel", fps: "frame rate", depth_um: "chamber depth" };
    function update() {
      var opt = preset.options[preset.selectedIndex];
      var chosen = $all('input[name="paths"]:checked');
      var fileFps = chosen.map(function (c) { return c.getAttribute("data-fps"); }).filter(Boolean);
      var uploads = files && files.files ? files.files.length : 0;
      Object.keys(names).forEach(function (key) {
        var cell = $("#src-" + key), input = $("#" + key), text, cls;
        var fromPreset = preset.value ? opt.getAttribute("data-" + key) : "";
        if (input.value.trim()) { text = "from you"; cls = "user"; }
        else if (key === "fps" && (fileFps.length || uploads)) {
          text = fileFps.length ? "from the file (" + fileFps.join(", ") + " fps)" : "from the file (read on upload)"; cls = "file";
        } else if (fromPreset) { text = "from preset " + preset.value + " (" + fromPreset + ")"; cls = "preset"; }
        else if (key === "depth_um") { text = "not given: no concentration"; cls = ""; }
        else if (key === "fps") { text = "from the file, or enter it (frame folders have none)"; cls = ""; }
        else { text = "missing: enter it or choose a preset"; cls = "missing"; }
        cell.textContent = text;
        cell.className = "src " + cls;
      });
    }
    form.addEventListener("input", update);
    form.addEventListener("change", update);
    update();
    form.addEventListener("submit", function (ev) {
      var limit = parseInt(form.getAttribute("data-max-upload"), 10), total = 0, big = null;
      if (files && files.files) {
        for (var i = 0; i < files.files.length; i++) {
          total += files.files[i].size;
          if (!big || files.files[i].size > big.size) { big = files.files[i]; }
        }
      }
      if (limit && total > limit) {
        ev.preventDefault();
        showError("the upload is too large: " + (files.files.length > 1 ? "the files are " : big.name + " is ") + sizeText(total) +
                  "; uploads are limited to " + form.getAttribute("data-limit-text") +
                  " (spermlab serve --max-upload-mb), copy larger files into the data folder instead and choose them from the list");
        return;
      }
      var button = $("#submit");
      button.disabled = true;
      button.textContent = total ? "Uploading " + sizeText(total) + "…" : "Checking…";
    });
  }

  /* -- queue: poll the jobs and redraw the rows -- */
  function queue(table) {
    var body = table.tBodies[0];
    function cell(text, cls) { var td = document.createElement("td"); td.className = cls || "left"; if (text !== null) { td.textContent = text; } return td; }
    function draw(jobs) {
      var rows = document.createDocumentFragment();
      jobs.forEach(function (j) {
        var tr = document.createElement("tr");
        tr.id = "job-" + j.sample_id;
        tr.setAttribute("data-state", j.state);
        var old = document.getElementById("job-" + j.sample_id);
        if (old && old.classList.contains("new")) { tr.className = "new"; }
        tr.appendChild(cell(j.sample_id));
        var path = cell(null); var code = document.createElement("code"); code.textContent = j.path || "—"; path.appendChild(code); tr.appendChild(path);
        tr.appendChild(cell(j.state, "left state"));
        var prog = cell(null), out = document.createElement("div"), bar = document.createElement("div"), label = document.createElement("small");
        out.className = "bar-out"; bar.className = "bar-in " + j.state; bar.style.width = (100 * (j.fraction || 0)).toFixed(1) + "%";
        out.appendChild(bar); prog.appendChild(out);
        label.className = "label";
        if (j.state === "running") { label.textContent = (j.label || "") + " " + (j.done || 0) + "/" + (j.total || "?") + " frames"; }
        else if (j.state === "queued") { label.textContent = "waiting"; }
        else if (j.state === "done" && j.seconds) { label.textContent = j.seconds.toFixed(1) + " s"; }
        prog.appendChild(label); tr.appendChild(prog);
        var res = cell(null, "left result");
        if (j.state === "done") { var a = document.createElement("a"); a.href = "/samples/" + encodeURIComponent(j.sample_id); a.textContent = "report"; res.appendChild(a); }
        else if (j.state === "failed") { var s = document.createElement("span"); s.className = "error"; s.textContent = j.error || "failed"; res.appendChild(s); }
        tr.appendChild(res);
        rows.appendChild(tr);
      });
      if (jobs.length) { body.innerHTML = ""; body.appendChild(rows); }
    }
    function poll() {
      fetch("/api/jobs", { cache: "no-store" }).then(function (r) { return r.json(); }).then(function (data) {
        draw(data.jobs);
        var busy = data.jobs.some(function (j) { return j.state === "queued" || j.state === "running"; });
        setTimeout(poll, busy ? 700 : 3000);
      }).catch(function () { setTimeout(poll, 3000); });
    }
    poll();
  }

  /* -- a sample's report: the review buttons fill the form -- */
  function review(panel) {
    var reviewer = $("#rv-reviewer");
    try { if (!reviewer.value && window.localStorage) { reviewer.value = localStorage.getItem("spermlab-reviewer") || ""; } } catch (e) { /* private mode */ }
    $("#review-form").addEventListener("submit", function () {
      try { localStorage.setItem("spermlab-reviewer", reviewer.value); } catch (e) { /* private mode */ }
    });
    document.addEventListener("click", function (ev) {
      var b = ev.target.closest ? ev.target.closest("button.rv") : null;
      if (!b) { return; }
      $("#rv-track").value = b.getAttribute("data-track");
      panel.scrollIntoView({ block: "start" });
      $("#rv-change").focus();
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = $("#new-form"), jobs = $("#jobs"), panel = $("#review");
    if (form) { newAnalysis(form); }
    if (jobs) { queue(jobs); }
    if (panel) { review(panel); }
  });
}());
