// Original file: switchboard/v1/kv.proto


export interface GetRequest {
  'key'?: (string);
}

export interface GetRequest__Output {
  'key': (string);
}
