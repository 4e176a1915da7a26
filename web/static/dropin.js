// The drop-in queue. A caller's page polls its ticket (the poll is the heartbeat) and goes to the call when a
// technician has taken it; a technician's page keeps the list of waiting callers fresh.

const CALLER_POLL_MS = 3000;
const STAFF_POLL_MS = 4000;

const dropin = { status: null, polls: 0, failures: 0 };
window.dropin = dropin;

function strings() {
  const el = document.getElementById("strings");
  return el ? JSON.parse(el.textContent) : {};
}

function setText(el, text) {
  if (el.textContent !== text) el.textContent = text; // unchanged text is not announced again
}

function caller(root) {
  const S = strings();
  const statusEl = document.getElementById("queue-status");
  const problem = document.getElementById("queue-problem");
  const leave = document.getElementById("leave-form");
  let timer = null;

  async function poll() {
    dropin.polls += 1;
    let body;
    try {
      const response = await fetch(root.dataset.status, { method: "POST", cache: "no-store" });
      body = await response.json();
    } catch (e) {
      dropin.failures += 1;
      problem.hidden = false;
      setText(problem, S["dropin.offline"]);
      timer = setTimeout(poll, CALLER_POLL_MS);
      return;
    }
    problem.hidden = true;
    dropin.status = body;
    root.dataset.state = body.state;
    setText(statusEl, body.text);
    if (body.destination) {
      if (leave) leave.hidden = true;
      setText(problem, S["dropin.moving"]);
      problem.hidden = false;
      location.assign(body.destination);
      return;
    }
    if (body.state === "gone") {
      if (leave) leave.hidden = true;
      return;
    }
    timer = setTimeout(poll, CALLER_POLL_MS);
  }

  if (root.dataset.state !== "gone") timer = setTimeout(poll, 500);
  window.addEventListener("pagehide", () => clearTimeout(timer));
}

function technician(root) {
  const list = document.getElementById("queue-list");
  const count = document.getElementById("queue-count");

  async function refresh() {
    try {
      const response = await fetch(root.dataset.list, { cache: "no-store" });
      if (!response.ok) return;
      const body = await response.json();
      dropin.status = body;
      const items = body.waiting.map((w) => {
        const li = document.createElement("li");
        const role = document.createElement("span");
        role.className = "role";
        role.textContent = w.role;
        const waited = document.createElement("span");
        waited.className = "waited";
        waited.textContent = w.waited;
        li.append(role, " ", waited);
        return li;
      });
      list.replaceChildren(...items);
      setText(count, `${root.dataset.countLabel}: ${body.count}`);
    } catch (e) {
      dropin.failures += 1; // the list on the page stays as it was; the next refresh tries again
    } finally {
      setTimeout(refresh, STAFF_POLL_MS);
    }
  }

  setTimeout(refresh, STAFF_POLL_MS);
}

const waitRoot = document.getElementById("dropin-wait");
if (waitRoot) caller(waitRoot);
const staffRoot = document.getElementById("dropin-staff");
if (staffRoot) technician(staffRoot);
