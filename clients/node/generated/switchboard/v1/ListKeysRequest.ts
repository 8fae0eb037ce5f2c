// Original file: switchboard/v1/kv.proto


export interface ListKeysRequest {
  'prefix'?: (string);
  'page_size'?: (number);
  'page_token'?: (string);
}

export interface ListKeysRequest__Output {
  'prefix': (string);
  'page_size': (number);
  'page_token': (string);
}
