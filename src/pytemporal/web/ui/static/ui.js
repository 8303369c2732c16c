// pytemporal web UI: progressive enhancement only; every page works without it.
"use strict";

// Replace `el` with the element of the same id in a freshly fetched copy of `url`.
async function refresh(el, url) {
  const response = await fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } });
  if (!response.ok) return null;
  const doc = new DOMParser().parseFromString(await response.text(), "text/html");
  const fresh = doc.getElementById(el.id);
  if (!fresh) return null;
  // Keep what the reader opened.
  const open = new Set([...el.querySelectorAll("details[open]")].map((d) => d.closest("[id]")?.id));
  for (const d of fresh.querySelectorAll("details")) {
    if (open.has(d.closest("[id]")?.id)) d.open = true;
  }
  el.replaceWith(fresh);
  return fresh;
}

// Live regions: `data-live-interval` (ms) re-fetches the page and swaps the region in,
// until the new copy no longer asks for it (the workflow closed).
function live(el) {
  const every = Number(el.dataset.liveInterval);
  if (!every) return;
  const timer = setInterval(async () => {
    if (document.hidden) return;
    try {
      const fresh = await refresh(el, location.href);
      if (!fresh) return;
      clearInterval(timer);
      live(fresh);
      document.dispatchEvent(new CustomEvent("ui:refreshed", { detail: fresh.id }));
    } catch (e) { /* the next tick tries again */ }
  }, every);
}

// `<a data-load="#box">`: fetch the link and put its #query-result into #box.
async function load(link) {
  const box = document.querySelector(link.dataset.load);
  box.textContent = "Loading…";
  try {
    const response = await fetch(link.href, { credentials: "same-origin" });
    const doc = new DOMParser().parseFromString(await response.text(), "text/html");
    const part = doc.getElementById("query-result") || doc.getElementById("error-message");
    box.replaceChildren(part || document.createTextNode(`Failed (${response.status})`));
  } catch (e) {
    box.textContent = "Failed: " + e;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-live-interval]").forEach(live);
  document.addEventListener("click", (event) => {
    const link = event.target.closest("a[data-load]");
    if (!link) return;
    event.preventDefault();
    load(link);
  });
  const section = location.pathname.split("/")[3];
  document.querySelector(`[data-nav="${section}"]`)?.classList.add("here");
});
