// Original file: switchboard/v1/kv.proto


export interface SetRequest {
  'key'?: (string);
  'value'?: (string);
}

export interface SetRequest__Output {
  'key': (string);
  'value': (string);
}
