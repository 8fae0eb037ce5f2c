// Original file: switchboard/v1/payments.proto

import type { Payment as _switchboard_v1_Payment, Payment__Output as _switchboard_v1_Payment__Output } from '../../switchboard/v1/Payment';

export interface ListPaymentsResponse {
  'payments'?: (_switchboard_v1_Payment)[];
  'next_page_token'?: (string);
}

export interface ListPaymentsResponse__Output {
  'payments': (_switchboard_v1_Payment__Output)[];
  'next_page_token': (string);
}
