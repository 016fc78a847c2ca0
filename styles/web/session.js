// The map page's sign-in: the OAuth2 password flow of /auth/token (with the one-time code when
// the server asks for one), tokens kept in this module's memory only (never in localStorage),
// the short-lived access token refreshed before it expires while the user is active.
//
// The refresh token lives as long as the server's idle timeout; a page left untouched that
// long is signed out, as the server would do, instead of keeping itself alive forever.

const EARLY_S = 30; // refresh this long before the access token expires
const ACTIVITY = ['pointerdown', 'keydown', 'wheel', 'touchstart'];

export class SignInError extends Error {
  constructor(code, description, status) {
    super(description);
    this.code = code;
    this.status = status;
  }
}

async function problem(response) {
  try {
    const body = await response.json();
    return new SignInError(body.code || 'Error', body.description || '', response.status);
  } catch {
    return new SignInError('Error', `HTTP ${response.status}`, response.status);
  }
}

export class Session extends EventTarget {
  constructor(root) {
    super();
    this.root = root;
    this.account = null; // {name, roles} from /auth/me
    this.tokens = null; // {access, refresh, accessUntil, refreshUntil, issuedAt} (ms)
    this.refreshing = null;
    this.timer = null;
    this.lastActivity = Date.now();
    for (const type of ACTIVITY) {
      document.addEventListener(type, () => { this.lastActivity = Date.now(); },
        { passive: true, capture: true });
    }
  }

  get signedIn() { return this.tokens !== null; }

  sameOrigin(url) { return new URL(url, this.root).origin === this.root.origin; }

  // The access token for a request now: refreshed first when it is about to expire, null when
  // signed out (or when the session has just ended).
  async accessToken() {
    if (!this.tokens) return null;
    const now = Date.now();
    if (now < this.tokens.accessUntil - EARLY_S * 1000) return this.tokens.access;
    if (now < this.tokens.refreshUntil) {
      try {
        await this.refresh();
        return this.tokens ? this.tokens.access : null;
      } catch {
        return null;
      }
    }
    this.end('expired');
    return null;
  }

  async headers(url) {
    const token = this.sameOrigin(url) ? await this.accessToken() : null;
    return token ? { Authorization: `Bearer ${token}` } : {};
  }

  // fetch() of this application's resources as the signed-in caller.
  async fetch(url, init = {}) {
    const headers = { ...(init.headers || {}), ...(await this.headers(url)) };
    return fetch(url, { cache: 'no-cache', ...init, headers });
  }

  async post(path, fields, headers = {}) {
    return fetch(new URL(path, this.root), {
      method: 'POST', body: new URLSearchParams(fields), headers, cache: 'no-store',
    });
  }

  // Sign in; throws SignInError (code MfaRequired: ask for the one-time code and try again).
  async signIn(username, password, totp) {
    const fields = { grant_type: 'password', username, password };
    if (totp) fields.totp = totp;
    const response = await this.post('auth/token', fields);
    if (!response.ok) throw await problem(response);
    this.keep(await response.json());
    const me = await this.fetch(new URL('auth/me', this.root));
    if (!me.ok) { this.end('refused'); throw await problem(me); }
    this.account = await me.json();
    this.dispatchEvent(new CustomEvent('change', { detail: { reason: 'signed-in' } }));
  }

  async refresh() {
    if (!this.tokens) throw new SignInError('Unauthorized', 'not signed in', 401);
    // A refresh token works once: every caller waits for the one refresh in flight.
    this.refreshing ??= (async () => {
      try {
        const response = await this.post('auth/refresh', { refresh_token: this.tokens.refresh });
        if (!response.ok) {
          const error = await problem(response);
          if (response.status === 401) this.end('expired');
          throw error;
        }
        this.keep(await response.json());
      } finally {
        this.refreshing = null;
      }
    })();
    return this.refreshing;
  }

  async signOut() {
    const token = await this.accessToken();
    this.end('signed-out');
    if (token) {
      try { await this.post('auth/logout', {}, { Authorization: `Bearer ${token}` }); } catch { /* offline */ }
    }
  }

  keep(pair) {
    const now = Date.now();
    this.tokens = {
      access: pair.access_token, refresh: pair.refresh_token, issuedAt: now,
      accessUntil: now + pair.expires_in * 1000, refreshUntil: now + pair.refresh_expires_in * 1000,
    };
    this.schedule();
  }

  // Refresh ahead of expiry if the user did something since the last tokens; otherwise wait:
  // the next request refreshes on demand, or the session ends when the refresh token would.
  schedule() {
    clearTimeout(this.timer);
    if (!this.tokens) return;
    const now = Date.now();
    const { accessUntil, refreshUntil, issuedAt } = this.tokens;
    const due = accessUntil - EARLY_S * 1000;
    // Past the due time, look again every few seconds for activity until the refresh token ends.
    const at = now < due ? due : Math.min(refreshUntil, now + 15000);
    this.timer = setTimeout(() => {
      if (!this.tokens) return;
      if (Date.now() >= this.tokens.refreshUntil) this.end('expired');
      else if (this.lastActivity > issuedAt) this.refresh().catch(() => {});
      else this.schedule();
    }, Math.max(1000, at - now));
  }

  end(reason) {
    if (!this.tokens) return;
    clearTimeout(this.timer);
    this.tokens = null;
    this.account = null;
    this.dispatchEvent(new CustomEvent('change', { detail: { reason } }));
  }
}
