// Original file: switchboard/v1/chat.proto


export interface Say {
  'text'?: (string);
}

export interface Say__Output {
  'text': (string);
}
