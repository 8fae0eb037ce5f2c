// Original file: switchboard/v1/files.proto

import type { FileInfo as _switchboard_v1_FileInfo, FileInfo__Output as _switchboard_v1_FileInfo__Output } from '../../switchboard/v1/FileInfo';

export interface UploadRequest {
  'info'?: (_switchboard_v1_FileInfo | null);
  'chunk'?: (Buffer | Uint8Array | string);
  'part'?: "info"|"chunk";
}

export interface UploadRequest__Output {
  'info'?: (_switchboard_v1_FileInfo__Output | null);
  'chunk'?: (Buffer);
  'part'?: "info"|"chunk";
}
