// The console's one script: tables marked data-live="<ms>" refresh their
// rows from the same URL with partial=1, so new events appear without a
// reload. Everything else works without JavaScript.
"use strict";

function refreshLive(table) {
  const every = Number(table.dataset.live) || 3000;
  const body = table.querySelector("tbody");
  const tick = async () => {
    const url = new URL(window.location.href);
    url.searchParams.set("partial", "1");
    try {
      const response = await fetch(url, { credentials: "same-origin" });
      if (response.ok && !response.redirected) {
        const doc = new DOMParser().parseFromString(
          "<table><tbody>" + (await response.text()) + "</tbody></table>",
          "text/html",
        );
        body.replaceChildren(...doc.querySelector("tbody").childNodes);
      }
    } catch (error) {
      // Offline for a moment: try again on the next tick.
    }
    setTimeout(tick, every);
  };
  setTimeout(tick, every);
}

document.querySelectorAll("table[data-live]").forEach(refreshLive);
