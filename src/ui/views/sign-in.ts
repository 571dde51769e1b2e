// The sign-in page: one API token in a password field, posted (never in a URL).
import { html } from '../html.js';
import { page } from './layout.js';

export function signInPage(options: { error?: string | undefined; signedOut?: boolean }): string {
  return page({
    title: 'Sign in',
    body: html`<h1>Sign in</h1>
<p>Paste one of the API tokens of <code>server.tokens</code>. The page keeps you signed in with a session cookie; the token itself is not stored in the browser.</p>
${options.signedOut ? html`<p class="flash flash-ok" role="status">You are signed out.</p>` : ''}
${options.error ? html`<p class="flash flash-error" role="alert" id="signin-error">${options.error}</p>` : ''}
<form method="post" action="/signin" class="signin">
  <label for="token">API token</label>
  <input id="token" name="token" type="password" autocomplete="current-password" required${options.error ? html` aria-describedby="signin-error" aria-invalid="true"` : ''}>
  <button type="submit">Sign in</button>
</form>`,
  }).text;
}
