// Original file: switchboard/v1/payments.proto


export interface GetPaymentRequest {
  'id'?: (string);
}

export interface GetPaymentRequest__Output {
  'id': (string);
}
