// Original file: switchboard/v1/files.proto


export interface DeleteFileRequest {
  'name'?: (string);
}

export interface DeleteFileRequest__Output {
  'name': (string);
}
