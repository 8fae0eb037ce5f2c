// Original file: switchboard/v1/files.proto


export interface DownloadRequest {
  'name'?: (string);
}

export interface DownloadRequest__Output {
  'name': (string);
}
