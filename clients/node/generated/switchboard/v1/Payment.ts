// Original file: switchboard/v1/payments.proto

import type { PaymentStatus as _switchboard_v1_PaymentStatus, PaymentStatus__Output as _switchboard_v1_PaymentStatus__Output } from '../../switchboard/v1/PaymentStatus';
import type { Timestamp as _google_protobuf_Timestamp, Timestamp__Output as _google_protobuf_Timestamp__Output } from '../../google/protobuf/Timestamp';
import type { Long } from '@grpc/proto-loader';

export interface Payment {
  'id'?: (string);
  'amount_minor'?: (number | string | Long);
  'currency'?: (string);
  'customer_id'?: (string);
  'description'?: (string);
  'status'?: (_switchboard_v1_PaymentStatus);
  'refunded_minor'?: (number | string | Long);
  'failure_code'?: (string);
  'failure_message'?: (string);
  'create_time'?: (_google_protobuf_Timestamp | null);
  'update_time'?: (_google_protobuf_Timestamp | null);
}

export interface Payment__Output {
  'id': (string);
  'amount_minor': (string);
  'currency': (string);
  'customer_id': (string);
  'description': (string);
  'status': (_switchboard_v1_PaymentStatus__Output);
  'refunded_minor': (string);
  'failure_code': (string);
  'failure_message': (string);
  'create_time': (_google_protobuf_Timestamp__Output | null);
  'update_time': (_google_protobuf_Timestamp__Output | null);
}
