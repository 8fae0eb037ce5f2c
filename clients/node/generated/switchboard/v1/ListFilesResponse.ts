// Original file: switchboard/v1/files.proto

import type { FileInfo as _switchboard_v1_FileInfo, FileInfo__Output as _switchboard_v1_FileInfo__Output } from '../../switchboard/v1/FileInfo';

export interface ListFilesResponse {
  'files'?: (_switchboard_v1_FileInfo)[];
  'next_page_token'?: (string);
}

export interface ListFilesResponse__Output {
  'files': (_switchboard_v1_FileInfo__Output)[];
  'next_page_token': (string);
}
