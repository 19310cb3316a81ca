// A run's or a repository's page, while something on it runs: ask for its statuses every
// few seconds and redraw the badges that changed (colour, icon and word), without a
// reload. Stops once nothing runs, and says so in the page's live region.
"use strict";

(function () {
  const live = document.getElementById("live-status");
  if (!live || !window.fetch) return;
  const url = live.dataset.live;
  const every = Number(live.dataset.every) || 2000;
  let newest = Number(live.dataset.newest) || 0;

  function paint(holder, status) {
    const badge = holder.querySelector(".badge");
    if (!badge || badge.dataset.status === status.key) return;
    badge.className = "badge " + status.tone;
    badge.dataset.status = status.key;
    badge.textContent = status.icon + " " + status.word;
  }

  function apply(data) {
    for (const [kind, statuses] of Object.entries(data.badges || {})) {
      for (const [id, status] of Object.entries(statuses)) {
        const selector = "[data-" + kind + '="' + CSS.escape(id) + '"]';
        document.querySelectorAll(selector).forEach((holder) => paint(holder, status));
      }
    }
    if (data.newest && newest && data.newest > newest) {
      newest = data.newest;
      live.textContent = live.dataset.newRuns + " ";
      const show = document.createElement("a");
      show.href = location.href;
      show.textContent = live.dataset.show;
      live.appendChild(show);
    }
  }

  async function poll() {
    if (document.hidden) {
      setTimeout(poll, every);
      return;
    }
    let data = null;
    try {
      const answer = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (answer.ok) data = await answer.json();
      else if (answer.status < 500) return; // not allowed any more (signed out): stop asking
    } catch (error) {
      data = null; // the service restarting, or the network gone: try again later
    }
    if (data) apply(data);
    if (data && !data.running) {
      if (!live.querySelector("a")) live.textContent = data.done;
      live.classList.add("still");
      return;
    }
    setTimeout(poll, every);
  }

  setTimeout(poll, every);
})();
