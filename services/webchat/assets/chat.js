// The Switchboard chat page. One WebSocket to /v1/chat/ws: each frame out is a ChatRequest and
// each frame in a ChatEvent, both in proto3 JSON; the close code tells how the call ended
// (1000 OK, 1001 the server is draining, 4000 + the gRPC code on failure). The server panel
// follows /v1/health:watch (Server-Sent Events).
//
// Every name and text is put on the page with textContent, never parsed as HTML; the page's
// Content-Security-Policy allows no inline script either.

const SUBPROTOCOL = 'switchboard.chat.v1';
// What a Sec-WebSocket-Protocol value may contain (an HTTP token); other tokens go in the query.
const TOKEN_CHARS = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const MAX_ITEMS = 500;
const RETRY_FIRST_MS = 500;
const RETRY_MAX_MS = 10000;

// Close codes: 4000 + the gRPC status code.
const GRPC = { INVALID_ARGUMENT: 4003, DEADLINE_EXCEEDED: 4004, ALREADY_EXISTS: 4006,
  RESOURCE_EXHAUSTED: 4008, FAILED_PRECONDITION: 4009, UNAVAILABLE: 4014, UNAUTHENTICATED: 4016 };
// Failures that trying again cannot fix.
const FINAL = new Set([GRPC.INVALID_ARGUMENT, GRPC.FAILED_PRECONDITION, GRPC.UNAUTHENTICATED, 4007, 1008]);

const $ = (id) => document.getElementById(id);

const state = {
  name: '',
  socket: null,
  joined: false, // the current socket has been welcomed
  rejoining: false, // the room knew us before: reconnects rejoin under the same name
  leaving: false, // the person asked to leave: no reconnect
  drained: false, // the server said it is shutting down
  attempt: 0,
  retryTimer: 0,
  members: new Set(),
};

// ---------------------------------------------------------------------------------------------
// The socket

function socketUrl(token) {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const url = `${scheme}//${location.host}/v1/chat/ws`;
  return token && !TOKEN_CHARS.test(token) ? `${url}?access_token=${encodeURIComponent(token)}` : url;
}

function connect() {
  clearTimeout(state.retryTimer);
  const token = $('token').value.trim();
  const protocols = [SUBPROTOCOL];
  if (token && TOKEN_CHARS.test(token)) protocols.push(`bearer.${token}`);
  let socket;
  try {
    socket = new WebSocket(socketUrl(token), protocols);
  } catch (error) {
    refused(`Cannot connect: ${error.message}`);
    return;
  }
  state.socket = socket;
  state.joined = false;
  state.drained = false;
  setConnection('connecting', state.rejoining ? `Reconnecting as ${state.name}…` : 'Connecting…');
  socket.addEventListener('open', () => send({ join: { name: state.name } }));
  socket.addEventListener('message', (event) => {
    if (socket !== state.socket) return;
    let parsed;
    try {
      parsed = JSON.parse(event.data);
    } catch {
      return;
    }
    onEvent(parsed);
  });
  socket.addEventListener('close', (event) => {
    if (socket === state.socket) onClose(event);
  });
}

function send(request) {
  const socket = state.socket;
  if (!socket || socket.readyState !== WebSocket.OPEN) return false;
  socket.send(JSON.stringify(request));
  return true;
}

function onEvent(event) {
  if (event.welcome) {
    const again = state.rejoining;
    state.joined = true;
    state.rejoining = true;
    state.attempt = 0;
    setMembers(event.welcome.members);
    showRoom();
    notice(again ? `Reconnected as ${event.welcome.name}.` : `Welcome to the chat, ${event.welcome.name}!`, 'info');
    setConnection('online', `Connected as ${event.welcome.name}`);
  } else if (event.member_joined) {
    addMember(event.member_joined.name);
    notice(`*** ${event.member_joined.name} joined the chat ***`, 'join');
  } else if (event.member_left) {
    const left = event.member_left;
    removeMember(left.name);
    const why = left.reason === 'SERVER_SHUTDOWN' ? ' (the server is shutting down)' : '';
    notice(`*** ${left.name} left the chat ***${why}`, 'leave');
  } else if (event.message) {
    message(event.message.from, event.message.text, event.time);
  } else if (event.members) {
    setMembers(event.members.names);
    usersList(event.members.names);
  } else if (event.missed) {
    notice(`*** ${event.missed.count} messages skipped: you were reading too slowly ***`, 'missed');
  } else if (event.error) {
    notice(`Error: ${event.error.message}`, 'error');
  } else if (event.goodbye) {
    state.drained = event.goodbye.reason.includes('shutting down');
    if (state.drained) drainNotice();
  }
}

function onClose(event) {
  const wasJoined = state.joined;
  state.socket = null;
  state.joined = false;
  if (state.leaving) {
    state.leaving = false;
    state.rejoining = false;
    notice('You left the room.', 'info');
    showLobby();
    setConnection('offline', 'Not connected');
    return;
  }
  if (event.code === 1001 || state.drained) {
    if (!state.drained) drainNotice();
    reconnectLater();
    return;
  }
  if (!state.rejoining) {
    // The first join: show why at the form instead of retrying.
    const why = event.reason || (event.code === 1006 ? 'the server cannot be reached' : `closed (${event.code})`);
    refused(why, event.code);
    return;
  }
  if (FINAL.has(event.code)) {
    notice(`The server refused to rejoin: ${event.reason}`, 'error');
    refused(event.reason, event.code);
    return;
  }
  if (wasJoined) {
    notice(`Connection lost${event.reason ? `: ${event.reason}` : ''}.`, 'error');
  } else if (event.code === GRPC.ALREADY_EXISTS) {
    // Our old session still holds the name until the server notices it is gone.
    setConnection('reconnecting', `${state.name} is still in use; retrying…`);
  }
  reconnectLater();
}

function drainNotice() {
  notice('The server is shutting down; this page will reconnect when it is back.', 'drain');
  setConnection('draining', 'Server shutting down — reconnecting…');
}

function reconnectLater() {
  state.attempt += 1;
  const ceiling = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** (state.attempt - 1));
  const delay = Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
  const current = $('connection').dataset.state;
  if (current !== 'draining') {
    setConnection('reconnecting', `Reconnecting in ${(delay / 1000).toFixed(1)} s…`);
  }
  state.retryTimer = setTimeout(connect, delay);
}

function refused(why, code) {
  clearTimeout(state.retryTimer);
  state.rejoining = false;
  showLobby();
  $('join-error').textContent = why;
  if (code === GRPC.UNAUTHENTICATED) $('token-details').open = true;
  setConnection('offline', 'Not connected');
}

function leave() {
  clearTimeout(state.retryTimer);
  if (send({ quit: {} })) {
    state.leaving = true;
    setConnection('leaving', 'Leaving…');
  } else {
    // Not connected (e.g. waiting to reconnect): just stop.
    state.rejoining = false;
    if (state.socket) state.socket.close(1000, 'leaving');
    state.socket = null;
    notice('You left the room.', 'info');
    showLobby();
    setConnection('offline', 'Not connected');
  }
}

// ---------------------------------------------------------------------------------------------
// Rendering: textContent only

function item(kind) {
  const list = $('messages');
  const li = document.createElement('li');
  li.className = kind;
  list.append(li);
  while (list.children.length > MAX_ITEMS) list.firstElementChild.remove();
  li.scrollIntoView({ block: 'end' });
  return li;
}

function timeOf(stamp) {
  const date = stamp ? new Date(stamp) : new Date();
  const span = document.createElement('time');
  span.dateTime = date.toISOString();
  span.textContent = date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
  return span;
}

function notice(text, kind) {
  const li = item(`notice ${kind}`);
  li.append(timeOf(null), document.createTextNode(' '));
  const span = document.createElement('span');
  span.className = 'text';
  span.textContent = text;
  li.append(span);
}

function message(from, text, stamp) {
  const li = item('message');
  li.dataset.from = from;
  const who = document.createElement('span');
  who.className = 'from';
  who.textContent = from;
  const what = document.createElement('span');
  what.className = 'text';
  what.textContent = text;
  if (from === state.name) li.classList.add('own');
  li.append(timeOf(stamp), document.createTextNode(' '), who, document.createTextNode(' '), what);
}

function usersList(names) {
  const li = item('notice users');
  li.append(timeOf(null), document.createTextNode(' Connected users:'));
  const list = document.createElement('ul');
  for (const name of names) {
    const entry = document.createElement('li');
    entry.textContent = name;
    list.append(entry);
  }
  li.append(list);
}

function setMembers(names) {
  state.members = new Set(names);
  renderMembers();
}

function addMember(name) {
  state.members.add(name);
  renderMembers();
}

function removeMember(name) {
  state.members.delete(name);
  renderMembers();
}

function renderMembers() {
  const list = $('members');
  const names = [...state.members].sort();
  list.replaceChildren(
    ...names.map((name) => {
      const li = document.createElement('li');
      li.textContent = name;
      if (name === state.name) li.className = 'own';
      return li;
    }),
  );
  $('member-count').textContent = state.socket || state.joined ? `(${names.length})` : '';
}

function setConnection(kind, text) {
  const status = $('connection');
  status.dataset.state = kind;
  status.textContent = text;
}

function showRoom() {
  $('lobby').hidden = true;
  $('room').hidden = false;
  $('text').focus();
}

function showLobby() {
  $('room').hidden = true;
  $('lobby').hidden = false;
  state.members.clear();
  renderMembers();
}

// ---------------------------------------------------------------------------------------------
// The server panel

const panel = { attempt: 0, timer: 0 };

function watchPanel() {
  const source = new EventSource('/v1/health:watch');
  source.addEventListener('message', (event) => {
    panel.attempt = 0;
    try {
      renderPanel(JSON.parse(event.data));
    } catch {
      // A malformed update changes nothing.
    }
  });
  source.addEventListener('error', () => {
    // The feed ends at a drain and fails while the server is down: follow it again later.
    source.close();
    const status = $('server-status');
    status.dataset.status = 'UNREACHABLE';
    status.textContent = 'UNREACHABLE';
    panel.attempt += 1;
    panel.timer = setTimeout(watchPanel, Math.min(RETRY_MAX_MS, 1000 * panel.attempt));
  });
}

function renderPanel(snapshot) {
  const status = $('server-status');
  status.dataset.status = snapshot.status;
  status.textContent = snapshot.status;
  $('room-count').textContent = String(snapshot.chat_members);
  const rows = snapshot.services.map((service) => {
    const tr = document.createElement('tr');
    const name = document.createElement('td');
    name.textContent = service.name.replace(/^switchboard\.v1\./, '');
    name.title = service.name;
    const health = document.createElement('td');
    health.textContent = service.status;
    health.dataset.status = service.status;
    tr.append(name, health);
    return tr;
  });
  $('services').tBodies[0].replaceChildren(...rows);
}

// ---------------------------------------------------------------------------------------------
// Wiring

$('join-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const name = $('name').value;
  $('join-error').textContent = '';
  state.name = name;
  state.rejoining = false;
  state.leaving = false;
  state.attempt = 0;
  sessionStorage.setItem('switchboard.chat.name', name);
  connect();
});

$('say-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const input = $('text');
  const text = input.value;
  if (!text) return;
  const command = text.trim().toLowerCase();
  let sent;
  if (command === '/users') {
    sent = send({ list_members: {} });
  } else if (command === '/quit') {
    input.value = '';
    leave();
    return;
  } else {
    sent = send({ say: { text } });
  }
  if (sent) {
    input.value = '';
  } else {
    notice('Not connected: the message was not sent.', 'error');
  }
});

$('who').addEventListener('click', () => {
  if (!send({ list_members: {} })) notice('Not connected.', 'error');
});
$('leave').addEventListener('click', leave);

$('name').value = sessionStorage.getItem('switchboard.chat.name') ?? '';
watchPanel();
