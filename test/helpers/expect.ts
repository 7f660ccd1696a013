/**
 * vitest's asymmetric string matchers, typed `unknown` instead of `any`: an expected object that holds
 * one (`toMatchObject({ message: stringContaining('...') })`) stays type-checked.
 */
import { expect } from 'vitest';

export const stringContaining = (text: string): unknown => expect.stringContaining(text);
export const stringMatching = (pattern: RegExp): unknown => expect.stringMatching(pattern);
