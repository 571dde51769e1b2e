// The notifiers for the channels the config sets up, by channel name; a channel without config has none.
import type { ChannelsConfig } from '../../config/types.js';
import type { ChannelName, Notifier, NotifierDeps } from '../notify-types.js';
import { createEmailNotifier } from './email.js';
import { createPagerDutyNotifier } from './pagerduty.js';
import { createSlackNotifier } from './slack.js';
import { createSmsNotifier } from './sms.js';

export { createEmailNotifier, type EmailChannelConfig, renderEmail } from './email.js';
export { createPagerDutyNotifier, type PagerDutyChannelConfig, pagerDutyEvent, pagerDutyServer } from './pagerduty.js';
export { createSlackNotifier, renderSlack, type SlackChannelConfig } from './slack.js';
export { createSmsNotifier, SMS_MAX_LENGTH, type SmsChannelConfig, smsBody } from './sms.js';

export function createNotifiers(channels: ChannelsConfig, deps: NotifierDeps = {}): Map<ChannelName, Notifier> {
  const notifiers = new Map<ChannelName, Notifier>();
  if (channels.email !== undefined) notifiers.set('email', createEmailNotifier(channels.email, deps));
  if (channels.slack !== undefined) notifiers.set('slack', createSlackNotifier(channels.slack, deps));
  if (channels.pagerduty !== undefined) notifiers.set('pagerduty', createPagerDutyNotifier(channels.pagerduty, deps));
  if (channels.sms !== undefined) notifiers.set('sms', createSmsNotifier(channels.sms, deps));
  return notifiers;
}
