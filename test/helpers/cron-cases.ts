/** Cron expressions and the OnCalendar= values they become: checked in unit tests, and against the real `systemd-analyze calendar`. */

export interface CalendarCase {
  cron: string;
  timezone: string;
  /** One value, or one per day field when both are restricted (crontab ORs them, systemd ANDs within one). */
  onCalendar: string | readonly string[];
}

export const CALENDAR_CASES: readonly CalendarCase[] = [
  { cron: '5 0 * * *', timezone: 'America/Los_Angeles', onCalendar: '*-*-* 00:05:00 America/Los_Angeles' },
  { cron: '0 7 * * *', timezone: 'Europe/Berlin', onCalendar: '*-*-* 07:00:00 Europe/Berlin' },
  // steps
  { cron: '*/15 * * * *', timezone: 'UTC', onCalendar: '*-*-* *:00/15:00 UTC' },
  { cron: '10-50/20 */6 * * *', timezone: 'UTC', onCalendar: '*-*-* 00/6:10/20:00 UTC' },
  { cron: '0 12 */2 * *', timezone: 'UTC', onCalendar: '*-*-01/2 12:00:00 UTC' },
  { cron: '0 0 1-10/3 * *', timezone: 'UTC', onCalendar: '*-*-01..10/3 00:00:00 UTC' },
  // ranges and lists
  { cron: '0 9-17 * * *', timezone: 'UTC', onCalendar: '*-*-* 09..17:00:00 UTC' },
  { cron: '0,30 8,20 * * *', timezone: 'Asia/Kolkata', onCalendar: '*-*-* 08,20:00,30:00 Asia/Kolkata' },
  { cron: '0 22-2 * * *', timezone: 'UTC', onCalendar: '*-*-* 00..02,22,23:00:00 UTC' },
  { cron: '1,2,3,7 0 * * *', timezone: 'UTC', onCalendar: '*-*-* 00:01..03,07:00 UTC' },
  // weekday names, numbers, wrap-around and 7 = Sunday
  { cron: '30 1 * * mon-fri', timezone: 'America/New_York', onCalendar: 'Mon..Fri *-*-* 01:30:00 America/New_York' },
  { cron: '0 0 * * MON,wed,Friday', timezone: 'UTC', onCalendar: 'Mon,Wed,Fri *-*-* 00:00:00 UTC' },
  { cron: '0 0 * * fri-mon', timezone: 'UTC', onCalendar: 'Sun,Mon,Fri,Sat *-*-* 00:00:00 UTC' },
  { cron: '0 0 * * 7', timezone: 'UTC', onCalendar: 'Sun *-*-* 00:00:00 UTC' },
  { cron: '0 0 * * 0-7', timezone: 'UTC', onCalendar: '*-*-* 00:00:00 UTC' },
  { cron: '0 3 ? * 6', timezone: 'UTC', onCalendar: 'Sat *-*-* 03:00:00 UTC' },
  // month names
  { cron: '0 0 1 jan,jul *', timezone: 'UTC', onCalendar: '*-01,07-01 00:00:00 UTC' },
  { cron: '0 6 15 MAR-MAY *', timezone: 'Australia/Sydney', onCalendar: '*-03..05-15 06:00:00 Australia/Sydney' },
  { cron: '0 0 1 */3 *', timezone: 'UTC', onCalendar: '*-01/3-01 00:00:00 UTC' },
  // day of month OR day of week when both are restricted, as crontab(5) reads them; AND when one starts with *
  { cron: '0 0 1 * mon', timezone: 'UTC', onCalendar: ['*-*-01 00:00:00 UTC', 'Mon *-*-* 00:00:00 UTC'] },
  { cron: '0 1 1 * 1', timezone: 'UTC', onCalendar: ['*-*-01 01:00:00 UTC', 'Mon *-*-* 01:00:00 UTC'] },
  { cron: '30 2 13 jan-jun fri', timezone: 'Europe/Berlin', onCalendar: ['*-01..06-13 02:30:00 Europe/Berlin', 'Fri *-01..06-* 02:30:00 Europe/Berlin'] },
  { cron: '0 1 */2 * 1', timezone: 'UTC', onCalendar: 'Mon *-*-01/2 01:00:00 UTC' },
  // nicknames
  { cron: '@daily', timezone: 'UTC', onCalendar: '*-*-* 00:00:00 UTC' },
  { cron: '@weekly', timezone: 'UTC', onCalendar: 'Sun *-*-* 00:00:00 UTC' },
];

/** Expressions nightshift accepts but timers and cron cannot run, and the reason given. */
export const REFUSED_CASES: readonly { cron: string; reason: RegExp }[] = [
  { cron: '0 5 0 * * *', reason: /seconds field/ },
  { cron: '*/10 * * * * *', reason: /seconds field/ },
  { cron: '0 0 L * *', reason: /uses L, W or #/ },
  { cron: '0 0 15W * *', reason: /uses L, W or #/ },
  { cron: '0 0 * * 1#2', reason: /uses L, W or #/ },
  { cron: '0 0 * * 5L', reason: /uses L, W or #/ },
  { cron: '5/15 * * * *', reason: /a step needs \* or a range/ },
  { cron: '0 0 * * funday', reason: /"funday" in "funday" is not a day of week/ },
  { cron: '0 0 32 * *', reason: /out of range for the day of month field/ },
  { cron: '*/0 * * * *', reason: /step .* must be at least 1/ },
  { cron: '0 0 * *', reason: /expected 5 fields, got 4/ },
  { cron: '@reboot', reason: /@reboot is not a schedule/ },
];
