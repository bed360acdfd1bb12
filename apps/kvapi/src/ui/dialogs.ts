/** The confirmation dialog for admin and destructive actions, and the one-time token prompt. */

const KEY = 'kvapi-token';

export function getToken(): string | null {
  try {
    return sessionStorage.getItem(KEY);
  } catch {
    return null;
  }
}

function setToken(t: string): void {
  try {
    sessionStorage.setItem(KEY, t);
  } catch {
    // storage disabled: the token lives only as long as this call
  }
}

function $(id: string): HTMLElement {
  return document.getElementById(id) as HTMLElement;
}

function ask(dialog: HTMLDialogElement): Promise<string> {
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue), { once: true });
    dialog.returnValue = 'cancel';
    dialog.showModal();
  });
}

/** Asks "Confirm?" with `text`; resolves true on Confirm. */
export async function confirmAction(text: string): Promise<boolean> {
  $('confirm-text').textContent = text;
  return (await ask($('confirm') as HTMLDialogElement)) === 'ok';
}

let pending: Promise<boolean> | null = null;
/** Cancelled once: API calls stop asking (polling would otherwise ask every second). */
let declined = false;

/**
 * Asks for the bearer token — one prompt even if several calls need it at once, and none
 * after the user cancelled, unless `byUser` (the header's token button).
 */
export function askToken(byUser = false): Promise<boolean> {
  if (declined && !byUser) return Promise.resolve(false);
  pending ??= (async () => {
    const input = $('token-input') as HTMLInputElement;
    input.value = getToken() ?? '';
    const ok = (await ask($('token-dialog') as HTMLDialogElement)) === 'ok' && input.value !== '';
    if (ok) setToken(input.value);
    declined = !ok;
    pending = null;
    return ok;
  })();
  return pending;
}
