// Debian's Chromium as nightshift's page tests and screenshot scripts start it: headless, no sandbox (they
// run as root), and nothing that reaches the network or a GPU (a closed network makes Chromium retry its
// background connections without end). One list for test/helpers/browser.ts and the scripts in this folder.
export const CHROMIUM_PATH = process.env.CHROMIUM ?? '/usr/bin/chromium';

export const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
