// Original file: switchboard/v1/kv.proto


export interface SetResponse {
  'replaced'?: (boolean);
}

export interface SetResponse__Output {
  'replaced': (boolean);
}
