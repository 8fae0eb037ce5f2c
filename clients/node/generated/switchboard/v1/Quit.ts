// Original file: switchboard/v1/chat.proto


export interface Quit {
}

export interface Quit__Output {
}
