/**
 * The paths inside a build container that nightshift mounts itself. A package's cache may not be
 * mounted on, above or below them: it would hide the recipes or the artifacts.
 */
export const CONTAINER_RECIPES = '/recipes';
export const CONTAINER_OUT = '/out';

export const CONTAINER_MOUNTS: Readonly<Record<string, string>> = {
  [CONTAINER_RECIPES]: 'the recipes',
  [CONTAINER_OUT]: "the build's artifact folder",
};
