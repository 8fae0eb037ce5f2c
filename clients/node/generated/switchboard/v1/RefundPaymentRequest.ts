// Original file: switchboard/v1/payments.proto

import type { Long } from '@grpc/proto-loader';

export interface RefundPaymentRequest {
  'payment_id'?: (string);
  'amount_minor'?: (number | string | Long);
  'reason'?: (string);
}

export interface RefundPaymentRequest__Output {
  'payment_id': (string);
  'amount_minor': (string);
  'reason': (string);
}
