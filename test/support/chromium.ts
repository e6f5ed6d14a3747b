/**
 * The Chromium the browser tests drive: Debian's when it is installed,
 * otherwise the headless build shipped in the `@sparticuz/chromium` dev
 * dependency (unpacked into the temp directory on first use), so `npm test`
 * needs nothing installed by hand.
 */
import { access, constants } from 'node:fs/promises';

import { chromium, type Browser } from 'playwright-core';

const SYSTEM_CHROMIUM = '/usr/bin/chromium';

/**
 * Headless, unsandboxed (containers run as root), and silent on the network:
 * a closed network refuses Chromium's own background connections. The
 * packaged build's recommended flags are left out: with its
 * `--single-process` the browser dies when its first page closes, and
 * `--disable-web-security` would loosen what the page under test may do.
 */
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** The path of a Chromium executable. */
export async function chromiumExecutable(): Promise<string> {
  const system = await access(SYSTEM_CHROMIUM, constants.X_OK).then(
    () => true,
    () => false,
  );
  if (system) return SYSTEM_CHROMIUM;
  const { default: packaged } = await import('@sparticuz/chromium');
  return packaged.executablePath();
}

export async function launchChromium(): Promise<Browser> {
  const executablePath = await chromiumExecutable();
  try {
    return await chromium.launch({ executablePath, args: ARGS });
  } catch (error) {
    // An unpacking cut short (an interrupted first run) leaves a broken binary that is reused as is.
    const hint =
      executablePath === SYSTEM_CHROMIUM ? '' : ' (if an interrupted run left it half unpacked, delete it)';
    throw new Error(`Chromium at ${executablePath} did not start${hint}`, { cause: error });
  }
}
