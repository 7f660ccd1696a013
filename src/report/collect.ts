/** Every machine's manifest of a night, read back from the destination: the fleet's view of a night. */
import type { Destination } from '../store/destination.js';
import { manifestMachines, readManifest, type Manifest } from '../store/manifest.js';

export interface FleetNight {
  date: string;
  destination: string;
  /**
   * Each machine of the schedule, then any other that published; manifest undefined = nothing
   * published, or (with `problem`) an object that is not a manifest this nightshift reads.
   */
  machines: { name: string; manifest: Manifest | undefined; problem?: string }[];
}

export async function collectNight(destination: Destination, date: string, machines: readonly string[]): Promise<FleetNight> {
  const published = await manifestMachines(destination, date);
  const names = [...machines, ...published.filter((name) => !machines.includes(name)).sort()];
  return {
    date,
    destination: destination.url,
    machines: await Promise.all(
      names.map(async (name) => {
        if (!published.includes(name)) return { name, manifest: undefined };
        // A manifest a newer (or broken) nightshift wrote is named and left out; the rest of the fleet still shows.
        const read = await readManifest(destination, date, name);
        return read.problem ? { name, manifest: undefined, problem: read.problem } : { name, manifest: read.manifest };
      }),
    ),
  };
}
