import { byId } from './dom.js';

const KEY = 'pet-workbench.apiKey';

/**
 * The API key the page sends, for servers that require one (API_KEYS). It
 * is kept for this browser tab only; saving reloads the page so that every
 * connection uses it. Returns the key in use, if any.
 */
export function mountApiKeyForm(storage: Storage | null): string | null {
  const saved = read(storage);
  const form = byId<HTMLFormElement>('api-key-form');
  const input = byId<HTMLInputElement>('api-key');
  input.value = saved ?? '';
  byId('api-key-state').textContent = saved ? 'set' : 'none';
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    try {
      const value = input.value.trim();
      if (value) storage?.setItem(KEY, value);
      else storage?.removeItem(KEY);
    } catch {
      // Storage disabled: the key cannot outlive the reload.
    }
    window.location.reload();
  });
  return saved;
}

function read(storage: Storage | null): string | null {
  try {
    const key = storage?.getItem(KEY);
    // An empty key counts as none.
    if (!key) return null;
    return key;
  } catch {
    return null;
  }
}
