// Original file: switchboard/v1/payments.proto

import type { Long } from '@grpc/proto-loader';

export interface CreatePaymentRequest {
  'amount_minor'?: (number | string | Long);
  'currency'?: (string);
  'customer_id'?: (string);
  'description'?: (string);
}

export interface CreatePaymentRequest__Output {
  'amount_minor': (string);
  'currency': (string);
  'customer_id': (string);
  'description': (string);
}
