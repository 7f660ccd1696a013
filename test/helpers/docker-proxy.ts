/**
 * A stand-in Docker engine for fault tests: a unix socket forwarding every connection to the real
 * engine's socket. Stopping it (connections cut, socket gone) looks to a docker client exactly like an
 * engine that died (EOF) and then is down; starting it again, like an engine that came back. The real
 * engine is never touched.
 */
import net from 'node:net';

export const REAL_DOCKER_SOCKET = '/var/run/docker.sock';

export class DockerProxy {
  readonly socket: string;
  private server: net.Server | undefined;
  private readonly connections = new Set<net.Socket>();

  constructor(socket: string) {
    this.socket = socket;
  }

  /** DOCKER_HOST for a client that should talk through the proxy. */
  get dockerHost(): string {
    return `unix://${this.socket}`;
  }

  async start(): Promise<void> {
    // Half-open: the client closes its sending side (no stdin) while the output still comes back.
    const server = net.createServer({ allowHalfOpen: true }, (client) => {
      const engine = net.connect({ path: REAL_DOCKER_SOCKET, allowHalfOpen: true });
      for (const end of [client, engine]) {
        this.connections.add(end);
        end.on('close', () => this.connections.delete(end));
      }
      client.pipe(engine).on('error', () => client.destroy());
      engine.pipe(client).on('error', () => engine.destroy());
      client.on('error', () => engine.destroy());
      engine.on('error', () => client.destroy());
    });
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(this.socket, resolve));
    this.server = server;
  }

  /** Like an engine that dies: every open connection is cut and nothing listens any more. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const connection of this.connections) connection.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
