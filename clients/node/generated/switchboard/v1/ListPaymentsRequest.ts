// Original file: switchboard/v1/payments.proto


export interface ListPaymentsRequest {
  'page_size'?: (number);
  'page_token'?: (string);
  'customer_id'?: (string);
}

export interface ListPaymentsRequest__Output {
  'page_size': (number);
  'page_token': (string);
  'customer_id': (string);
}
