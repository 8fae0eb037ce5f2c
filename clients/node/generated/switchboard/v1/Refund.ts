// Original file: switchboard/v1/payments.proto

import type { Payment as _switchboard_v1_Payment, Payment__Output as _switchboard_v1_Payment__Output } from '../../switchboard/v1/Payment';
import type { Timestamp as _google_protobuf_Timestamp, Timestamp__Output as _google_protobuf_Timestamp__Output } from '../../google/protobuf/Timestamp';
import type { Long } from '@grpc/proto-loader';

export interface Refund {
  'id'?: (string);
  'payment_id'?: (string);
  'amount_minor'?: (number | string | Long);
  'currency'?: (string);
  'reason'?: (string);
  'payment'?: (_switchboard_v1_Payment | null);
  'create_time'?: (_google_protobuf_Timestamp | null);
}

export interface Refund__Output {
  'id': (string);
  'payment_id': (string);
  'amount_minor': (string);
  'currency': (string);
  'reason': (string);
  'payment': (_switchboard_v1_Payment__Output | null);
  'create_time': (_google_protobuf_Timestamp__Output | null);
}
