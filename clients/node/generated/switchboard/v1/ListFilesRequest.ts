// Original file: switchboard/v1/files.proto


export interface ListFilesRequest {
  'page_size'?: (number);
  'page_token'?: (string);
}

export interface ListFilesRequest__Output {
  'page_size': (number);
  'page_token': (string);
}
