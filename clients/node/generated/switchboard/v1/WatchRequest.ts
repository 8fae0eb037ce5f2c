// Original file: switchboard/v1/kv.proto


export interface WatchRequest {
  'prefix'?: (string);
}

export interface WatchRequest__Output {
  'prefix': (string);
}
