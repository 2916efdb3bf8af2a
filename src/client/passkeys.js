// Passkeys in the browser: the WebAuthn ceremonies, and the buttons that start them.
//
// WebAuthn is a JavaScript API; the browser turns the server's options (WebAuthn JSON, as
// webauthn-rs writes them) into its own objects and its answer back into JSON
// (`parseCreationOptionsFromJSON`, `parseRequestOptionsFromJSON`, `toJSON`). Doing that from
// Rust would compile bindings and serialisation into the WASM client, and so would a button in
// each page's views (each one grows the types of the views around it): the client's size budget
// had room for neither (docs/BENCHMARKS.md). So this module, loaded with the client as a
// wasm-bindgen snippet, does both, where the browser takes passkeys at all:
//
// - It adds a passkey button to the forms that can take one besides what they ask for (`OFFERS`):
//   the login form, a login's second step, and "confirm it's you" (step-up). The second step and
//   "confirm it's you" get one only when the account has a passkey.
// - The security page marks up its own offer (`data-passkey-offer="add"`, hidden until shown
//   here), with the new passkey's `name`.
// - The login form's username field (`autocomplete="… webauthn"`) lists passkeys in its
//   autofill, where the browser supports it.
//
// Once a ceremony is done the page is loaded again, from the server: a login page sends a
// signed-in browser on to `?next=` (the server checks it), other pages show what changed.

const API = '/api/auth/';
// The login form's username field, whose autofill lists passkeys.
const AUTOFILL = 'input[autocomplete~="webauthn"]';

// The forms that take a passkey too: what it does there, how to find them, and the button.
const OFFERS = [
  ['login', () => [...document.querySelectorAll(AUTOFILL)].map((input) => input.form), 'Sign in with a passkey'],
  ['second-step', () => document.querySelectorAll('form[action$="/api/auth/complete_login"]'), 'Use a passkey instead'],
  ['confirm', () => document.querySelectorAll('form[action$="/api/auth/confirm_identity"]'), 'Confirm with a passkey instead'],
];

// What each offer's button does: the server function pair, whether it needs the session (and
// so may refresh it), and whether the browser makes a passkey or uses one.
const SIGN_IN = { begin: 'passkey_login_begin', finish: 'passkey_login_finish', signedIn: false, create: false };
const CEREMONIES = {
  login: SIGN_IN,
  'second-step': SIGN_IN,
  confirm: { begin: 'passkey_confirm_begin', finish: 'passkey_confirm_finish', signedIn: true, create: false },
  add: { begin: 'passkey_add_begin', finish: 'passkey_add_finish', signedIn: true, create: true },
};

// The login page's autofill request, pending until someone picks a passkey from the list.
let autofill = null;

const supported = () =>
  typeof PublicKeyCredential !== 'undefined' &&
  typeof PublicKeyCredential.parseRequestOptionsFromJSON === 'function';

// Said when the server's answer cannot be read, so nothing unexpected reaches the page.
const UNEXPECTED = 'Something went wrong. Please try again.';

// The server refused a call: `message` is its words, for the page.
class Refusal extends Error {
  constructor(message, endpoint, code) {
    super(message);
    this.endpoint = endpoint;
    this.code = code;
  }
}

// A POST to a server function, as a form. One access token that expired meanwhile is
// refreshed and the call made again, as the WASM client does (`client::refresh`); when the
// session cannot be refreshed, the person logs in and comes back.
async function call(endpoint, fields, signedIn, signal, retried = false) {
  const response = await fetch(API + endpoint, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
    body: new URLSearchParams(fields),
    signal,
  });
  const body = await response.json().catch(() => null);
  if (response.ok) return body;
  const sessionFailure =
    response.status === 401 && !['invalid_credentials', 'mfa_required'].includes(body?.code);
  if (signedIn && sessionFailure && !retried) {
    const refreshed = await fetch(API + 'refresh', { method: 'POST', signal });
    if (refreshed.ok) return call(endpoint, fields, signedIn, signal, true);
    // Only a session that is over sends the person to log in; a busy server is said as such.
    if (refreshed.status === 401) {
      location.assign('/login?next=' + encodeURIComponent(location.pathname + location.search));
    }
  }
  throw new Refusal(typeof body?.message === 'string' ? body.message : UNEXPECTED, endpoint, body?.code);
}

// One ceremony: the server's options, the browser's authenticator, the server's verdict.
async function ceremony(kind, fields, mediation, signal) {
  const { begin, finish, signedIn, create } = CEREMONIES[kind];
  const options = JSON.parse(await call(begin, {}, signedIn, signal));
  const credential = create
    ? await navigator.credentials.create({
        publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options.publicKey),
      })
    : await navigator.credentials.get({
        publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options.publicKey),
        mediation,
        signal,
      });
  await call(finish, { ...fields, credential: JSON.stringify(credential.toJSON()) }, signedIn, signal);
}

// After a ceremony: the page as the server now shows it, without the error a plain form post
// brought back in its address (a refusal the ceremony has answered).
function reload() {
  const url = new URL(location.href);
  url.searchParams.delete('__path');
  url.searchParams.delete('__err');
  location.replace(url);
}

// What a failed ceremony says to the person.
function wording(error) {
  if (error instanceof Refusal) return error.message;
  if (error?.name === 'NotAllowedError') return 'No passkey was used. Try again when you are ready.';
  if (error?.name === 'InvalidStateError') return 'This device holds a passkey for your account already.';
  return 'This browser could not use a passkey here. Try again, or use your password.';
}

// Says `message` under the offer's button (made on first use, so that a page shows no empty
// alert), or takes it away.
function say(offer, message) {
  let place = offer.querySelector('[data-passkey-error]');
  if (!place && message) {
    place = document.createElement('p');
    place.id = `passkey-error-${offer.dataset.passkeyOffer}`;
    place.className = 'form-error';
    place.setAttribute('role', 'alert');
    place.dataset.passkeyError = '';
    offer.append(place);
    offer.querySelector('[data-passkey]')?.setAttribute('aria-describedby', place.id);
  }
  if (place) {
    place.textContent = message;
    place.hidden = !message;
  }
}

async function press(button) {
  const offer = button.closest('[data-passkey-offer]');
  const kind = offer?.dataset.passkeyOffer;
  if (!CEREMONIES[kind] || button.getAttribute('aria-busy') === 'true') return;
  // Only one request to the authenticator at a time: the autofill one gives way.
  autofill?.abort();
  const name = offer.querySelector('input[name="name"]')?.value ?? '';
  // Busy, not disabled: a disabled button would drop the keyboard's place on the page.
  button.setAttribute('aria-busy', 'true');
  say(offer, '');
  try {
    await ceremony(kind, kind === 'add' ? { name } : {}, 'optional');
    reload();
  } catch (error) {
    // The session's proof went out of date: the page, loaded again, asks for a new one.
    if (error?.code === 'step_up_required') {
      reload();
      return;
    }
    say(offer, wording(error));
    button.removeAttribute('aria-busy');
    button.focus();
  }
}

// The login page's username field: passkeys offered in its autofill list. The request waits
// until someone picks one; when it times out unused it is made again, while the field is there.
async function offerInAutofill(input) {
  if (!(await PublicKeyCredential.isConditionalMediationAvailable?.())) return;
  while (input.isConnected) {
    autofill?.abort();
    const controller = new AbortController();
    autofill = controller;
    const started = Date.now();
    try {
      await ceremony('login', {}, 'conditional', controller.signal);
      reload();
      return;
    } catch (error) {
      // Only a passkey someone picked and the server refused is worth saying. Nothing is said
      // when the request gave way to a button or the page left, when nobody picked one in
      // time, when the browser would not ask (this origin is not the relying party), or when
      // the server would not begin (too many from this address): the button remains.
      const quiet =
        controller.signal.aborted ||
        !input.isConnected ||
        !(error instanceof Refusal && error.endpoint === CEREMONIES.login.finish);
      if (!quiet) {
        const offer = document.querySelector('[data-passkey-offer="login"]');
        if (offer) say(offer, wording(error));
      }
      // Only a request that waited long enough to have timed out is made again.
      const timedOut = error?.name === 'NotAllowedError' && Date.now() - started > 60_000;
      if (!timedOut || controller.signal.aborted) return;
    }
  }
}

// Shows an offer. The second step and "confirm it's you" offer a passkey only to an account
// that has one: the server says so, for this browser's pending
// login (`second_step`) or for the session (`factors`).
async function reveal(offer) {
  const ask = { 'second-step': 'second_step', confirm: 'factors' }[offer.dataset.passkeyOffer];
  if (ask) {
    const response = await fetch(API + ask);
    const answer = response.ok ? await response.json().catch(() => null) : null;
    const has = ask === 'factors' ? answer?.passkeys?.length > 0 : answer?.passkey === true;
    if (!has) return;
  }
  offer.hidden = false;
}

// An offer at the end of `form`: its button.
function offerIn(form, kind, label) {
  const offer = document.createElement('div');
  offer.className = 'passkey-offer';
  offer.dataset.passkeyOffer = kind;
  offer.hidden = true;
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'secondary';
  button.dataset.passkey = '';
  button.textContent = label;
  offer.append(button);
  form.append(offer);
}

function scan() {
  for (const [kind, find, label] of OFFERS) {
    for (const form of find()) {
      if (form && !('passkeySeen' in form.dataset)) {
        form.dataset.passkeySeen = '';
        offerIn(form, kind, label);
      }
    }
  }
  for (const offer of document.querySelectorAll('[data-passkey-offer]:not([data-passkey-seen])')) {
    offer.dataset.passkeySeen = '';
    reveal(offer);
  }
  for (const input of document.querySelectorAll(`${AUTOFILL}:not([data-passkey-seen])`)) {
    input.dataset.passkeySeen = '';
    offerInAutofill(input);
  }
}

// Called once by the client as it starts. Pages come and go without a reload, so new
// offers are looked for as they appear.
export function listen() {
  if (!supported()) return;
  document.addEventListener('click', (event) => {
    const button = event.target.closest?.('[data-passkey]');
    if (button) {
      event.preventDefault();
      press(button);
    }
  });
  scan();
  new MutationObserver(scan).observe(document.body, {
    childList: true,
    subtree: true,
  });
}
