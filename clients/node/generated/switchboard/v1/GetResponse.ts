// Original file: switchboard/v1/kv.proto


export interface GetResponse {
  'key'?: (string);
  'value'?: (string);
}

export interface GetResponse__Output {
  'key': (string);
  'value': (string);
}
