/**
 * The copy an update of night.json works on, made without copying the night: the builds' records are
 * copied one at a time, when an update first writes to one or reaches into one of its objects, so an
 * update costs what it touches, not what the night holds (a deep copy of 2,000 records took longer than
 * the build it recorded). What the update did is then told apart: which records changed, or, when it
 * replaced or reshaped the list of builds, that the whole state is new.
 */
import type { BuildRecord, NightState } from './state.js';

export interface Draft {
  /** Hand this to the update; it may edit it in place or return another state. */
  state: NightState;
  /** The state after the update (its result, or the draft), with what changed. */
  finish(result: NightState): DraftResult;
}

export type DraftResult =
  /** Only these records changed (maybe none), and the fields outside `builds`. */
  | { state: NightState; changed: BuildRecord[] }
  /** The list of builds was replaced or reshaped: the whole state is new. */
  | { state: NightState; changed: 'all' };

export function draftOf(current: NightState): Draft {
  const { builds, ...header } = current;
  const copies: { index: number; original: BuildRecord; copy: BuildRecord }[] = [];
  const drafts = new Map<BuildRecord, BuildRecord>();
  let indexOf: Map<BuildRecord, number> | undefined;
  let reshaped = false;
  let appendedOnly = true;
  const draftAt = (index: number): BuildRecord => {
    const original = builds[index]!;
    let draft = drafts.get(original);
    if (!draft) drafts.set(original, (draft = recordDraft(original, (copy) => copies.push({ index, original, copy }))));
    return draft;
  };
  // Writes to the list itself (push, splice, an index set) go to a list of its own; its records, wherever
  // they moved, are still handed out as drafts.
  const list = builds.slice();
  const listDraft = new Proxy(list, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver) as unknown;
      if (typeof key !== 'string' || !isIndex(key)) return value;
      const index = Number(key);
      if (!reshaped) return index < builds.length ? draftAt(index) : value;
      indexOf ??= new Map(builds.map((record, at) => [record, at]));
      const at = indexOf.get(value as BuildRecord);
      return at === undefined ? value : draftAt(at);
    },
    set(target, key, value) {
      reshaped = true;
      // Records added after the existing ones (a build taken from the shared queue) are still changes of records.
      const appending = (key === 'length' && Number(value) >= builds.length) || (typeof key === 'string' && isIndex(key) && Number(key) >= builds.length);
      if (!appending) appendedOnly = false;
      return Reflect.set(target, key, value);
    },
    deleteProperty(target, key) {
      reshaped = true;
      appendedOnly = false;
      return Reflect.deleteProperty(target, key);
    },
    defineProperty(target, key, descriptor) {
      reshaped = true;
      appendedOnly = false;
      return Reflect.defineProperty(target, key, descriptor);
    },
  });
  const state: NightState = { ...structuredClone(header), builds: listDraft };
  return {
    state,
    finish(result) {
      if ((reshaped && !appendedOnly) || result.builds !== listDraft) return { state: plainCopy(result), changed: 'all' };
      const next = builds.slice();
      const changed: BuildRecord[] = [];
      for (const { index, original, copy } of copies) {
        next[index] = copy;
        if (JSON.stringify(copy) !== JSON.stringify(original)) changed.push(copy);
      }
      for (const added of list.slice(builds.length).map((record) => structuredClone(record))) {
        next.push(added);
        changed.push(added);
      }
      const { builds: _drafts, ...fields } = result;
      return { state: { ...structuredClone(fields), builds: next }, changed };
    },
  };
}

function isIndex(key: string): boolean {
  return /^(0|[1-9]\d*)$/.test(key);
}

/**
 * One record as the update sees it: reads come from the original until the first write, or the first
 * read of one of its objects (axes, artifacts, attempts), which copies the record; from then on
 * everything goes to the copy. The original, shared with the state on disk, is never written.
 */
function recordDraft(original: BuildRecord, onCopy: (copy: BuildRecord) => void): BuildRecord {
  let copy: BuildRecord | undefined;
  const own = (): BuildRecord => {
    if (!copy) {
      copy = structuredClone(original);
      onCopy(copy);
    }
    return copy;
  };
  const current = (): BuildRecord => copy ?? original;
  // The target is an empty object: nothing done to the draft itself can reach the original.
  return new Proxy({} as BuildRecord, {
    get(_target, key) {
      const value = Reflect.get(current(), key) as unknown;
      if (copy || typeof value !== 'object' || value === null) return value;
      return Reflect.get(own(), key) as unknown;
    },
    set: (_target, key, value) => Reflect.set(own(), key, value),
    deleteProperty: (_target, key) => Reflect.deleteProperty(own(), key),
    defineProperty: (_target, key, descriptor) => Reflect.defineProperty(own(), key, descriptor),
    has: (_target, key) => Reflect.has(current(), key),
    ownKeys: () => Reflect.ownKeys(current()),
    getOwnPropertyDescriptor(_target, key) {
      const descriptor = Reflect.getOwnPropertyDescriptor(current(), key);
      // Reported as configurable: the target holds no such property (a proxy's rule), and a draft's fields are all plain.
      return descriptor && { ...descriptor, configurable: true };
    },
    preventExtensions: () => false,
  });
}

/** A plain copy of a state that may hold drafts (JSON: what night.json can hold anyway). */
function plainCopy(state: NightState): NightState {
  return JSON.parse(JSON.stringify(state)) as NightState;
}
