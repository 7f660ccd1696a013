/** Every machine's manifest of a night, read back from the destination: the fleet's view of a night. */
import type { Destination } from '../store/destination.js';
import type { Manifest } from '../store/manifest.js';
import { manifestKey, nightPrefix } from '../store/published-layout.js';

export interface FleetNight {
  date: string;
  destination: string;
  /** Each machine of the schedule, then any other that published; manifest undefined = nothing published. */
  machines: { name: string; manifest: Manifest | undefined }[];
}


export async function collectNight(destination: Destination, date: string, machines: readonly string[]): Promise<FleetNight> {
  const published = (await destination.list(nightPrefix(date)))
    .filter((key) => key.endsWith('/manifest.json'))
    .map((key) => key.slice(nightPrefix(date).length, -'/manifest.json'.length));
  const names = [...machines, ...published.filter((name) => !machines.includes(name)).sort()];
  return {
    date,
    destination: destination.url,
    machines: await Promise.all(
      names.map(async (name) => {
        const body = published.includes(name) ? await destination.getBytes(manifestKey(date, name)) : undefined;
        return { name, manifest: body ? (JSON.parse(body.toString('utf8')) as Manifest) : undefined };
      }),
    ),
  };
}
