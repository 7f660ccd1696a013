/** `--listen HOST:PORT`: where the live page listens, and whether that is this machine only. */
import { isIP } from 'node:net';
import { ExitCode, NightshiftError } from '../errors.js';

export const DEFAULT_LISTEN = '127.0.0.1:8080';

export interface ListenAddress {
  /** As given to the socket: `127.0.0.1`, `::1`, `0.0.0.0`, a host name. */
  host: string;
  /** 0 = any free port (the real one is printed once listening). */
  port: number;
  /** True when only this machine can connect (127.0.0.0/8, ::1, localhost). */
  loopback: boolean;
}

/** Parses `HOST:PORT` (`[::1]:8080` for IPv6); a usage error (exit 2) that shows the form otherwise. */
export function parseListen(text: string): ListenAddress {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text.trim());
  const host = match?.[1] ?? match?.[2];
  const port = Number(match?.[3]);
  const bracketsFit = match?.[1] === undefined || isIP(match[1]) === 6;
  if (!host || !bracketsFit || !Number.isInteger(port) || port > 65535) {
    throw new NightshiftError(
      `--listen ${JSON.stringify(text)} is not HOST:PORT; e.g. --listen ${DEFAULT_LISTEN} (this machine only), --listen 0.0.0.0:8080 with a token, [::1]:8080 for IPv6, port 0 for any free port`,
      ExitCode.usage,
    );
  }
  return { host, port, loopback: isLoopback(host) };
}

export function isLoopback(host: string): boolean {
  const name = host.toLowerCase();
  if (name === 'localhost' || name === '::1') return true;
  if (isIP(name) === 4) return name.startsWith('127.');
  // An IPv4 address written as IPv6 (::ffff:127.0.0.1).
  return name.startsWith('::ffff:127.');
}

/** The URL a person opens: an IPv6 host in brackets. */
export function listenUrl(host: string, port: number): string {
  return `http://${isIP(host) === 6 ? `[${host}]` : host}:${port}/`;
}
