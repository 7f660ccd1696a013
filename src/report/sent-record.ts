/**
 * `report.sent.json` in the night folder: that (and when, to whom) the night's report was mailed, so a
 * second `--send` does not mail it again; and its sibling `report.webhooks.json`: which webhooks the
 * summary was posted to, by the variable holding each URL (never the URL). The only place that reads
 * or writes them.
 */
import path from 'node:path';
import * as z from 'zod';
import { readTextIfExists, writeJsonAtomic } from '../files.js';
import { parseJson } from '../json-format.js';

export interface SentRecord {
  sent_at: string;
  to: string[];
  subject: string;
  message_id: string;
}

const sentRecordSchema = z.looseObject({ sent_at: z.string(), to: z.array(z.string()), subject: z.string(), message_id: z.string() });

export const sentRecordPath = (nightDir: string) => path.join(nightDir, 'report.sent.json');

/**
 * The record, undefined when the report was not sent, or `problem` when the file cannot be read (the
 * caller names it; sending again is then the safe side of a mail that may or may not have gone).
 */
export async function readSentRecord(nightDir: string): Promise<{ record?: SentRecord; problem?: string }> {
  const file = sentRecordPath(nightDir);
  const text = await readTextIfExists(file);
  if (text === undefined) return {};
  const parsed = parseJson(text, sentRecordSchema);
  return parsed.ok ? { record: parsed.value } : { problem: `${file} cannot be read (${parsed.problem})` };
}

export function writeSentRecord(nightDir: string, record: SentRecord): Promise<void> {
  return writeJsonAtomic(sentRecordPath(nightDir), record);
}

/** Webhooks the night's summary was posted to, by the name of the variable that holds each URL. */
export type WebhookRecord = Record<string, { sent_at: string; host: string }>;

const webhookRecordSchema = z.record(z.string(), z.looseObject({ sent_at: z.string(), host: z.string() }));

export const webhookRecordPath = (nightDir: string) => path.join(nightDir, 'report.webhooks.json');

/** The record ({} when nothing was posted), or `problem` when the file cannot be read. */
export async function readWebhookRecord(nightDir: string): Promise<{ record: WebhookRecord; problem?: string }> {
  const file = webhookRecordPath(nightDir);
  const text = await readTextIfExists(file);
  if (text === undefined) return { record: {} };
  const parsed = parseJson(text, webhookRecordSchema);
  return parsed.ok ? { record: parsed.value } : { record: {}, problem: `${file} cannot be read (${parsed.problem})` };
}

export function writeWebhookRecord(nightDir: string, record: WebhookRecord): Promise<void> {
  return writeJsonAtomic(webhookRecordPath(nightDir), record);
}
