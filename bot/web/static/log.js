// A log page: show the failed step (or the line in the address), and follow the log live
// with server-sent events while it runs, keeping the end in view unless the reader scrolled up.
"use strict";

(function () {
  const log = document.getElementById("log");
  if (!log) return;

  function reveal(element, where) {
    const section = element.closest("details");
    if (section) section.open = true;
    element.scrollIntoView({ block: where });
  }

  function showTarget() {
    const id = decodeURIComponent(location.hash.slice(1));
    const line = id && document.getElementById(id);
    if (line) {
      document.querySelectorAll(".line.target").forEach((l) => l.classList.remove("target"));
      line.classList.add("target");
      reveal(line, "center");
      return true;
    }
    return false;
  }

  window.addEventListener("hashchange", showTarget);
  if (!showTarget()) {
    const failed = document.getElementById("failed-step");
    if (failed) {
      const lines = failed.querySelectorAll(".line");
      reveal(lines.length ? lines[lines.length - 1] : failed, "center");
    }
  }

  const url = log.dataset.events;
  if (!url || !window.EventSource) return;
  const status = document.getElementById("status");
  const following = document.getElementById("following");
  let followEnd = true;

  function atEnd() {
    const page = document.scrollingElement;
    return page.scrollTop + window.innerHeight >= page.scrollHeight - 48;
  }
  window.addEventListener("scroll", () => {
    followEnd = atEnd();
    if (following) following.classList.toggle("paused", !followEnd);
  }, { passive: true });

  function currentLines() {
    const sections = log.querySelectorAll("details.section");
    return sections.length ? sections[sections.length - 1].querySelector(".lines") : null;
  }

  function openSection(opens) {
    const empty = document.getElementById("empty-log");
    if (empty) empty.remove();
    const details = document.createElement("details");
    details.className = "section";
    details.open = true;
    const summary = document.createElement("summary");
    const badge = document.createElement("span");
    badge.className = "state";
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = opens.name;
    const took = document.createElement("span");
    took.className = "took";
    summary.append(badge, " ", name, " ", took);
    const lines = document.createElement("div");
    lines.className = "lines";
    details.append(summary, lines);
    log.append(details);
    return lines;
  }

  function add(item) {
    let lines = currentLines();
    if (item.opens || !lines) lines = openSection(item.opens || { name: "", step: false });
    const line = document.createElement("div");
    line.className = "line";
    line.id = "L" + item.n;
    const number = document.createElement("a");
    number.className = "ln";
    number.href = "#L" + item.n;
    number.textContent = item.n;
    const text = document.createElement("span");
    text.className = "tx";
    text.innerHTML = item.html; // rendered and escaped by the server
    if (item.cut) {
      const cut = document.createElement("span");
      cut.className = "cut";
      cut.textContent = " " + item.cut;
      text.append(cut);
    }
    line.append(number, text);
    lines.append(line);
    if (item.ends) {
      const summary = lines.parentElement.querySelector("summary");
      summary.querySelector(".state, .badge").outerHTML = item.ends; // server-rendered
      summary.querySelector(".took").textContent = item.took || "";
    }
  }

  const source = new EventSource(url);
  source.addEventListener("lines", (event) => {
    const keep = followEnd;
    JSON.parse(event.data).lines.forEach(add);
    if (keep) window.scrollTo(0, document.scrollingElement.scrollHeight);
  });
  source.addEventListener("done", (event) => {
    source.close();
    const data = JSON.parse(event.data);
    if (status) status.innerHTML = data.badge; // server-rendered
    if (following) following.textContent = "Finished";
  });
})();
