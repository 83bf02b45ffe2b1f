// The station's web page: polls /api/status once a second and renders each connector.
// In simulation (/api/sim/state answers) it also shows controls for the simulated EV.
"use strict";

const POLL_MS = 1000;
let simulated = false;

const $ = (id) => document.getElementById(id);

function fmtPower(w) {
  return w >= 1000 ? `${(w / 1000).toFixed(2)} kW` : `${Math.round(w)} W`;
}

function fmtEnergy(wh) {
  return `${(wh / 1000).toFixed(3)} kWh`;
}

function setText(root, selector, text) {
  root.querySelector(selector).textContent = text;
}

function connectorCard(c) {
  let card = document.querySelector(`article[data-connector="${c.id}"]`);
  if (!card) {
    card = $("connector-template").content.firstElementChild.cloneNode(true);
    card.dataset.connector = c.id;
    card.querySelectorAll(".sim-buttons button").forEach((b) => {
      b.addEventListener("click", () => simAction(c.id, b.dataset.action));
    });
    $("connectors").appendChild(card);
  }
  return card;
}

function renderConnector(c, sim) {
  const card = connectorCard(c);
  setText(card, ".name", `${c.id} · ${c.name || c.kind}`);
  const status = card.querySelector(".status");
  status.textContent = c.status;
  status.className = `status ${c.status}`;
  setText(card, ".display", c.display || "");
  setText(card, ".pilot", c.pilot ?? "–");
  setText(card, ".contactor", c.contactor_closed ? "closed" : "open");
  setText(card, ".lock", c.locked === null ? "–" : c.locked ? "locked" : "unlocked");
  const amps = c.current_a.length ? ` (${c.current_a.map((a) => a.toFixed(1)).join(" / ")} A)` : "";
  setText(card, ".power", fmtPower(c.power_w) + amps);
  setText(card, ".energy", fmtEnergy(c.energy_wh));
  setText(card, ".session", fmtEnergy(c.session_energy_wh));
  const tx = c.transaction_id !== null ? `#${c.transaction_id}` : "–";
  setText(card, ".transaction", c.id_tag ? `${tx} (${c.id_tag})` : tx);

  const faults = card.querySelector("ul.faults");
  faults.replaceChildren(...c.faults.map((f) => {
    const li = document.createElement("li");
    li.textContent = `${f.code} ${f.error_code}${f.info ? ": " + f.info : ""}`;
    return li;
  }));

  card.querySelectorAll(".ev-row").forEach((e) => { e.hidden = !sim; });
  card.querySelector(".sim-buttons").hidden = !sim;
  if (sim) {
    const ev = sim.ev;
    let text = "none";
    if (ev) {
      const soc = ev.soc_percent !== undefined ? `, SoC ${ev.soc_percent.toFixed(1)} %` : "";
      text = `${ev.state}${soc}, drawing ${ev.current_a.toFixed(1)} A`;
    }
    setText(card, ".ev", text);
  }
}

function render(state, simState) {
  $("station-id").textContent = state.charge_point_id;
  document.title = state.charge_point_id;
  const csms = $("csms");
  csms.textContent = `central system: ${state.csms_online ? "online" : "offline"}`;
  csms.className = `badge ${state.csms_online ? "online" : "offline"}`;

  const stationFaults = $("station-faults");
  stationFaults.hidden = state.faults.length === 0;
  stationFaults.textContent = state.faults.map((f) => `${f.code} ${f.error_code}`).join(", ");

  const simById = new Map((simState?.connectors ?? []).map((s) => [s.id, s]));
  state.connectors.forEach((c) => renderConnector(c, simById.get(c.id)));
  $("sim-badge").hidden = !simulated;
  $("sim-card").hidden = !simulated;
}

async function getJson(path) {
  const r = await fetch(path, { cache: "no-store" });
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
  return r.json();
}

async function post(path, body) {
  const r = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body ?? {}),
  });
  const data = await r.json().catch(() => ({}));
  $("sim-message").textContent = r.ok ? "" : data.error || `HTTP ${r.status}`;
  poll();
}

function simAction(connector, action) {
  post(`/api/sim/connectors/${connector}/${action}`);
}

async function poll() {
  try {
    const state = await getJson("/api/status");
    let simState = null;
    if (simulated) {
      simState = await getJson("/api/sim/state").catch(() => null);
    }
    render(state, simState);
    $("error").hidden = true;
  } catch (err) {
    $("error").textContent = `station not reachable: ${err.message}`;
    $("error").hidden = false;
  }
}

async function start() {
  simulated = await fetch("/api/sim/state", { cache: "no-store" })
    .then((r) => r.ok)
    .catch(() => false);
  $("card-form").addEventListener("submit", (e) => {
    e.preventDefault();
    post("/api/sim/tokens", { id_tag: $("card-id").value.trim().toUpperCase(), reader: 1 });
  });
  await poll();
  setInterval(poll, POLL_MS);
}

start();
