// Original file: switchboard/v1/kv.proto


export interface ListKeysResponse {
  'keys'?: (string)[];
  'next_page_token'?: (string);
}

export interface ListKeysResponse__Output {
  'keys': (string)[];
  'next_page_token': (string);
}
